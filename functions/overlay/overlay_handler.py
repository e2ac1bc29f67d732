"""OverlayFunction: the scheduled live-trends refresh (EventBridge Scheduler, every 30 minutes by default)."""

from recsys.trends.lambda_entry import make_handler

handler = make_handler()
