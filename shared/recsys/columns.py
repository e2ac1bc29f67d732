"""Column names shared by every table the project reads or writes."""

from typing import Final

USER_ID: Final = "user_id"
ITEM_ID: Final = "item_id"
TIMESTAMP: Final = "timestamp"  # unix seconds
DAY: Final = 86_400.0  # seconds in a day, for every window and half-life given in days
WEIGHT: Final = "weight"
RATING: Final = "rating"

USER_IDX: Final = "user_idx"
ITEM_IDX: Final = "item_idx"

RANK: Final = "rank"
SCORE: Final = "score"
REASON: Final = "reason"
