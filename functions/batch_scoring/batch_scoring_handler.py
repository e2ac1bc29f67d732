"""BatchScoringFunction: S3 `input/` uploads and the Distributed Map's tasks -> scored parquet in `output/`."""

from recsys.batch.lambda_entry import make_handler

handler = make_handler()
