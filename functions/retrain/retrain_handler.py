"""RetrainFunction and TrainingFunction: the steps of the scheduled retraining workflow (gather, train, promote)."""

from recsys.retrain.lambda_entry import make_handler

handler = make_handler()
