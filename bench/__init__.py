"""`make bench`: request efficiency, rate use, local cost and mart cost, as ratios."""
