"""A few lines from the marts, so that a new user sees at once what landed."""

from __future__ import annotations

from typing import Any

TOP_POSTS = 3
TREND_DAYS = 5


def summary_lines(pipeline: Any) -> list[str]:
    """Top posts, follower growth per profile and the latest sentiment trend.

    Args:
        pipeline: a dlt pipeline whose dataset holds the marts.
    """
    with pipeline.sql_client() as sql_client:
        return summary_lines_from(sql_client)


def summary_lines_from(sql_client: Any) -> list[str]:
    """Like ``summary_lines``, on an open dlt SQL client."""
    return [
        *_top_posts(sql_client),
        *_follower_growth(sql_client),
        *_sentiment_trend(sql_client),
    ]


def _top_posts(sql_client: Any) -> list[str]:
    rows = sql_client.execute_sql(
        "select network, profile_name, created_date, engagements, post_id"
        f" from {sql_client.make_qualified_table_name('post_performance')}"
        " where engagements is not null"
        f" order by engagements desc, post_id limit {TOP_POSTS}"
    )
    lines = [f"Top {TOP_POSTS} posts by engagements:"]
    lines += [
        f"  {engagements:>8} {network:<10} {profile} {created} {post_id}"
        for network, profile, created, engagements, post_id in rows
    ]
    return lines


def _follower_growth(sql_client: Any) -> list[str]:
    rows = sql_client.execute_sql(
        "select network, profile_name, min(reporting_date), max(reporting_date),"
        " sum(net_follower_growth), max(followers_count)"
        f" from {sql_client.make_qualified_table_name('daily_profile_performance')}"
        " where net_follower_growth is not null"
        " group by network, profile_name order by network, profile_name"
    )
    lines = ["Net follower growth per profile:"]
    lines += [
        f"  {growth:>+8} {network:<10} {profile} ({first} to {last}, peak {followers})"
        for network, profile, first, last, growth, followers in rows
    ]
    return lines


def _sentiment_trend(sql_client: Any) -> list[str]:
    rows = sql_client.execute_sql(
        "select topic_name, metric_date, max(net_sentiment_score), max(topic_messages_count)"
        f" from {sql_client.make_qualified_table_name('daily_topic_sentiment')}"
        " group by topic_name, metric_date order by topic_name, metric_date desc"
    )
    lines = [f"Net sentiment, last {TREND_DAYS} days per topic:"]
    shown: dict[str, int] = {}
    for topic, day, score, volume in rows:
        shown[topic] = shown.get(topic, 0) + 1
        if shown[topic] <= TREND_DAYS:
            score_text = "   n/a" if score is None else f"{float(score):+.2f}"
            lines.append(f"  {topic} {day} {score_text} ({volume} messages)")
    return lines
