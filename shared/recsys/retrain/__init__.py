"""Scheduled retraining in the user's account: gather the inputs, train, promote through the gate.

The Step Functions workflow in template.yaml runs these steps; each step reads and writes S3 only, so a
step can run in a Lambda function, in a container elsewhere or on a laptop against the same bucket.
"""
