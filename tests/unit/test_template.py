"""template.yaml as a cloud engineer would review it: least privilege, no recursion, hardened buckets.

cfn-lint and checkov do not look inside Fn::Sub strings for wildcards, so this test does.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from recsys.store.s3 import EVENT_LOG, S3ModelStore

ROOT = Path(__file__).resolve().parents[2]


class _CfnLoader(yaml.SafeLoader):
    """Reads !Ref, !Sub, !GetAtt, !If ... as {"Fn::X": value} like CloudFormation does."""


def _tag(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> dict[str, Any]:
    name = "Ref" if suffix == "Ref" else f"Fn::{suffix}"
    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
        if suffix == "GetAtt":
            value = value.split(".")
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)  # type: ignore[arg-type]
    return {name: value}


_CfnLoader.add_multi_constructor("!", _tag)
TEMPLATE: dict[str, Any] = yaml.load((ROOT / "template.yaml").read_text(), Loader=_CfnLoader)
RESOURCES: dict[str, Any] = TEMPLATE["Resources"]

# The only wildcards a resource may hold: the end of a prefix we own.
ALLOWED_WILDCARD_SUFFIXES = (
    "/models/*",
    "/history/*",
    "/retraining/*",
    "-training:*",  # the training function's own log group's streams
    "/overlays/*",
    "/overlay-state/*",
    "/input/*",
    "/output/*",
    "-batch/*",
    "/events/*",
    "/events-errors/*",
)
#: Statements allowed a bare "*" resource, and why.
STAR_RESOURCE_ALLOWED = {
    "Logging": "CloudWatch Logs delivery APIs take no resource ARN",
    "Tracing": "X-Ray's write APIs take no resource ARN",
}


def strings_in(value: Any) -> list[str]:
    """Every literal string inside a value, including the templates inside Fn::Sub."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [s for item in value for s in strings_in(item)]
    if isinstance(value, dict):
        return [s for item in value.values() for s in strings_in(item)]
    return []


def statements(resource: dict[str, Any]) -> list[dict[str, Any]]:
    found = []
    for policy in resource["Properties"].get("Policies", []):
        if isinstance(policy, dict) and "PolicyDocument" in policy:  # an AWS::IAM::Role's
            policy = policy["PolicyDocument"]
        if isinstance(policy, dict) and "Statement" in policy:
            found += policy["Statement"]
    return found


def s3_writes(resource: dict[str, Any]) -> dict[str, list[str]]:
    """Sid -> the ARNs of each of the resource's statements that may put or delete S3 objects."""
    return {
        s["Sid"]: [t for t in strings_in(s["Resource"]) if t.startswith("arn:")]
        for s in statements(resource)
        if {"s3:PutObject", "s3:DeleteObject"} & set(strings_in(s["Action"]))
    }


def functions() -> dict[str, dict[str, Any]]:
    return {k: v for k, v in RESOURCES.items() if v["Type"] == "AWS::Serverless::Function"}


def iam_holders() -> dict[str, dict[str, Any]]:
    return {
        k: v
        for k, v in RESOURCES.items()
        if v["Type"] in ("AWS::Serverless::Function", "AWS::Serverless::StateMachine", "AWS::IAM::Role")
    }


@pytest.mark.parametrize("name", sorted(iam_holders()))
def test_no_action_or_resource_wildcards_beyond_a_prefix(name: str) -> None:
    for statement in statements(iam_holders()[name]):
        actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        assert all("*" not in action for action in actions), (name, statement["Sid"], actions)
        for text in strings_in(statement["Resource"]):
            if text == "*":
                assert statement["Sid"] in STAR_RESOURCE_ALLOWED, (name, statement["Sid"])
                continue
            if "*" in text:
                assert text.endswith(ALLOWED_WILDCARD_SUFFIXES), (name, statement["Sid"], text)
                assert text.count("*") == 1, (name, text)


@pytest.mark.parametrize("name", ["CandidatesFunction", "RerankFunction"])
def test_serving_functions_only_read_the_models_prefix(name: str) -> None:
    for statement in statements(RESOURCES[name]):
        assert statement["Effect"] == "Allow"
        if statement["Sid"] == "ReadSessions":  # the session read: one query of the events table, nothing else
            assert name == "RerankFunction"
            assert statement["Action"] == "dynamodb:Query"
            assert statement["Resource"] == {"Fn::GetAtt": ["UserEventsTable", "Arn"]}
            continue
        assert statement["Action"] in ("s3:GetObject", "s3:ListBucket")
        resource = " ".join(strings_in(statement["Resource"]))
        if statement["Action"] == "s3:GetObject":
            assert [text for text in resource.split() if text.startswith("arn:")] == [
                "arn:${AWS::Partition}:s3:::${Bucket}/${ModelPrefix}/models/*",
                "arn:${AWS::Partition}:s3:::${Bucket}/${ModelPrefix}/overlays/*",
            ]
        else:
            assert statement["Condition"]["StringLike"]["s3:prefix"] == [
                {"Fn::Sub": "${ModelPrefix}/models/*"},
                {"Fn::Sub": "${ModelPrefix}/overlays/*"},
            ]


def test_batch_reads_input_and_models_and_writes_only_output() -> None:
    by_sid = {s["Sid"]: s for s in statements(RESOURCES["BatchScoringFunction"])}
    writes = s3_writes(RESOURCES["BatchScoringFunction"])
    assert list(writes) == ["WriteOutput"]
    assert writes["WriteOutput"][0].endswith("/output/*")
    assert strings_in(by_sid["ReadInput"]["Resource"])[0].endswith("/input/*")
    assert by_sid["ReadInput"]["Action"] == "s3:GetObject"


def test_batch_trigger_is_scoped_to_input_and_guarded_against_recursion() -> None:
    batch = RESOURCES["BatchScoringFunction"]["Properties"]
    assert batch["RecursiveLoop"] == "Terminate"
    suffixes = set()
    for event in batch["Events"].values():
        rules = {r["Name"]: r["Value"] for r in event["Properties"]["Filter"]["S3Key"]["Rules"]}
        assert rules["prefix"] == "input/"
        suffixes.add(rules["suffix"])
    assert suffixes == {".jsonl", ".jsonl.gz", ".csv", ".csv.gz", ".parquet"}
    destination = batch["EventInvokeConfig"]["DestinationConfig"]["OnFailure"]
    assert destination == {"Type": "SQS", "Destination": {"Fn::GetAtt": ["BatchFailureQueue", "Arn"]}}


@pytest.mark.parametrize("name", ["BatchBucket", "ModelBucket"])
def test_buckets_are_private_encrypted_versioned_and_tls_only(name: str) -> None:
    properties = RESOURCES[name]["Properties"]
    assert properties["PublicAccessBlockConfiguration"] == dict.fromkeys(
        ("BlockPublicAcls", "BlockPublicPolicy", "IgnorePublicAcls", "RestrictPublicBuckets"), True
    )
    assert properties["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    assert properties["VersioningConfiguration"]["Status"] == "Enabled"
    policy = RESOURCES[f"{name}Policy"]["Properties"]["PolicyDocument"]["Statement"][0]
    assert policy["Effect"] == "Deny"
    assert policy["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}


def test_every_route_has_an_authorizer_and_the_stage_throttles_and_logs() -> None:
    routes = {k: v for k, v in RESOURCES.items() if v["Type"] == "AWS::ApiGatewayV2::Route"}
    assert {r["Properties"]["RouteKey"] for r in routes.values()} == {
        "GET /recommendations/{user_id}",
        "POST /rerank",
        "GET /health",
        "GET /model",
        "POST /candidates",
        "GET /items/{item_id}/similar",
        "POST /events",
        "POST /events/batch",
    }
    for route in routes.values():
        assert route["Properties"]["AuthorizationType"] == {"Fn::If": ["UseJwt", "JWT", "AWS_IAM"]}
    stage = RESOURCES["HttpApiStage"]["Properties"]
    assert stage["DefaultRouteSettings"]["ThrottlingRateLimit"] == {"Ref": "ThrottlingRateLimit"}
    assert "DestinationArn" in stage["AccessLogSettings"]


def test_parameters_are_constrained() -> None:
    for name, parameter in TEMPLATE["Parameters"].items():
        if parameter["Type"] == "CommaDelimitedList":
            continue
        constrained = {"AllowedValues", "AllowedPattern", "MinValue"} & set(parameter)
        assert constrained, f"parameter {name} accepts anything"


def test_alarms_cover_errors_throttles_and_p99_for_every_function() -> None:
    alarms = [v["Properties"] for v in RESOURCES.values() if v["Type"] == "AWS::CloudWatch::Alarm"]
    for function in functions():
        watched = {a["MetricName"] for a in alarms if a.get("Dimensions", [{}])[0].get("Value") == {"Ref": function}}
        assert watched == {"Errors", "Throttles", "Duration"}, function
    assert all(a["ExtendedStatistic"] == "p99" for a in alarms if a.get("MetricName") == "Duration")


@pytest.mark.parametrize("name", sorted(functions()))
def test_handlers_exist_where_the_template_points(name: str) -> None:
    properties = functions()[name]["Properties"]
    module, _, attribute = properties["Handler"].partition(".")
    source = ROOT / properties["CodeUri"] / f"{module}.py"
    assert re.search(rf"^{attribute} = ", source.read_text(), re.MULTILINE)


def test_globals_target_python312_with_tracing_and_the_layer() -> None:
    function_globals = TEMPLATE["Globals"]["Function"]
    assert function_globals["Runtime"] == "python3.12"
    assert function_globals["Tracing"] == "Active"
    assert function_globals["Layers"] == [{"Ref": "SharedLayer"}]
    assert RESOURCES["SharedLayer"]["Metadata"] == {"BuildMethod": "makefile"}


SERVING = ("CandidatesFunction", "RerankFunction")


@pytest.mark.parametrize("name", SERVING)
def test_serving_functions_publish_versions_with_snapstart_on_by_default(name: str) -> None:
    properties = RESOURCES[name]["Properties"]
    assert properties["AutoPublishAlias"] == "live"
    assert properties["AutoPublishAliasAllProperties"] is True  # a new layer or setting publishes too
    assert properties["SnapStart"] == {"ApplyOn": {"Fn::If": ["UseSnapStart", "PublishedVersions", "None"]}}
    assert TEMPLATE["Conditions"]["UseSnapStart"] == {"Fn::Equals": [{"Ref": "SnapStart"}, "Enabled"]}
    assert TEMPLATE["Parameters"]["SnapStart"]["Default"] == "Enabled"
    # SAM hashes unresolved properties: the version's description (replaced on change) carries the settings
    assert {"${SnapStart}", "${SnapshotTag}", "${ServingMemorySize}"} <= set(
        re.findall(r"\$\{\w+\}", properties["VersionDescription"]["Fn::Sub"][0])
    )
    assert properties["ProvisionedConcurrencyConfig"] == {
        "Fn::If": [
            "UseProvisionedConcurrency",
            {"ProvisionedConcurrentExecutions": {"Ref": "ProvisionedConcurrency"}},
            {"Ref": "AWS::NoValue"},
        ]
    }
    # SnapStart snapshots /tmp with the model in it and allows no more than 512 MB of it
    assert properties.get("EphemeralStorage", {"Size": 512})["Size"] <= 512


def test_provisioned_concurrency_is_off_by_default_and_refused_beside_snapstart() -> None:
    assert TEMPLATE["Parameters"]["ProvisionedConcurrency"]["Default"] == "0"
    rule = TEMPLATE["Rules"]["SnapStartOrProvisionedConcurrency"]
    assert rule["RuleCondition"] == {"Fn::Not": [{"Fn::Equals": [{"Ref": "ProvisionedConcurrency"}, "0"]}]}
    assert rule["Assertions"][0]["Assert"] == {"Fn::Equals": [{"Ref": "SnapStart"}, "Disabled"]}


@pytest.mark.parametrize("name", SERVING)
def test_the_api_invokes_the_alias_not_latest(name: str) -> None:
    alias = {"Ref": f"{name}.Alias"}  # $LATEST never runs from a snapshot
    integration = name.removesuffix("Function") + "Integration"
    permission = name.removesuffix("Function") + "InvokePermission"
    assert RESOURCES[integration]["Properties"]["IntegrationUri"] == alias
    assert RESOURCES[permission]["Properties"]["FunctionName"] == alias


def test_batch_scoring_runs_without_snapstart() -> None:
    # its 4 GB of /tmp is beyond SnapStart's 512 MB, and a job of minutes gains nothing from it
    assert "SnapStart" not in RESOURCES["BatchScoringFunction"]["Properties"]


def test_ingestion_may_only_read_and_write_the_events_table_and_send_to_the_stream() -> None:
    by_sid = {s["Sid"]: s for s in statements(RESOURCES["IngestFunction"])}
    assert by_sid == {
        "StoreUserEvents": {
            "Sid": "StoreUserEvents",
            "Effect": "Allow",
            "Action": ["dynamodb:BatchGetItem", "dynamodb:BatchWriteItem"],
            "Resource": {"Fn::GetAtt": ["UserEventsTable", "Arn"]},
        },
        "LogEvents": {
            "Sid": "LogEvents",
            "Effect": "Allow",
            "Action": "firehose:PutRecordBatch",
            "Resource": {"Fn::GetAtt": ["EventsDeliveryStream", "Arn"]},
        },
    }
    variables = RESOURCES["IngestFunction"]["Properties"]["Environment"]["Variables"]
    assert variables["USER_EVENTS_TABLE"] == {"Ref": "UserEventsTable"}
    assert variables["EVENTS_STREAM"] == {"Ref": "EventsDeliveryStream"}
    assert RESOURCES["RerankFunction"]["Properties"]["Environment"]["Variables"]["USER_EVENTS_TABLE"] == {
        "Ref": "UserEventsTable"
    }


def test_the_events_table_is_on_demand_encrypted_recoverable_and_expires_what_the_code_marks() -> None:
    from recsys.events.table import EXPIRES, ITEM, KEY, USER

    table = RESOURCES["UserEventsTable"]["Properties"]
    assert table["BillingMode"] == "PAY_PER_REQUEST"
    assert table["SSESpecification"] == {"SSEEnabled": True}
    assert table["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
    assert table["TimeToLiveSpecification"] == {"AttributeName": EXPIRES, "Enabled": True}
    assert [k["AttributeName"] for k in table["KeySchema"]] == [USER, KEY]
    assert ITEM not in {a["AttributeName"] for a in table["AttributeDefinitions"]}  # keys only are declared


def test_the_event_log_lands_where_its_reader_looks_and_its_role_writes_only_there() -> None:
    destination = RESOURCES["EventsDeliveryStream"]["Properties"]["ExtendedS3DestinationConfiguration"]
    assert destination["Prefix"] == {"Fn::Sub": "${ModelPrefix}/events/"}
    assert S3ModelStore("b", "p").folder(EVENT_LOG) == "p/events/"  # where the refresh and retraining read it
    assert destination["CompressionFormat"] == "GZIP"
    assert RESOURCES["EventsDeliveryStream"]["Properties"]["DeliveryStreamEncryptionConfigurationInput"]
    role = RESOURCES["EventsDeliveryRole"]["Properties"]
    trust = role["AssumeRolePolicyDocument"]["Statement"][0]
    assert trust["Principal"] == {"Service": "firehose.amazonaws.com"}
    assert trust["Condition"] == {"StringEquals": {"sts:ExternalId": {"Ref": "AWS::AccountId"}}}
    for statement in role["Policies"][0]["PolicyDocument"]["Statement"]:
        resource = strings_in(statement["Resource"])[0]
        if "s3:PutObject" in statement["Action"]:
            assert resource.endswith(("/${ModelPrefix}/events/*", "/${ModelPrefix}/events-errors/*"))
        else:
            assert "*" not in resource and not any(a.startswith("s3:Put") for a in statement["Action"])


def test_alarms_on_our_own_metrics_watch_names_the_code_emits() -> None:
    """An alarm on a metric name nobody emits never fires: each ServerlessRecsys alarm names a metric
    some `metrics.add_metric(name=...)` in shared/recsys sends, with the service dimension Powertools adds."""
    emitted = {
        name
        for path in (ROOT / "shared" / "recsys").rglob("*.py")
        for name in re.findall(r'add_metric\(\s*name="(\w+)"', path.read_text(encoding="utf-8"))
    }
    powertools = TEMPLATE["Globals"]["Function"]["Environment"]["Variables"]
    alarms = [r["Properties"] for r in RESOURCES.values() if r["Type"] == "AWS::CloudWatch::Alarm"]
    ours = [a for a in alarms if a.get("Namespace") == powertools["POWERTOOLS_METRICS_NAMESPACE"]]
    assert ours, "the event store alarm watches our own metric"
    for alarm in ours:
        assert alarm["MetricName"] in emitted, alarm["MetricName"]
        assert alarm["Dimensions"] == [{"Name": "service", "Value": powertools["POWERTOOLS_SERVICE_NAME"]}]


def test_the_overlay_refresh_is_scheduled_and_writes_only_overlays() -> None:
    assert s3_writes(RESOURCES["OverlayFunction"]) == {
        "WriteOverlays": [
            "arn:${AWS::Partition}:s3:::${Bucket}/${ModelPrefix}/overlays/*",
            "arn:${AWS::Partition}:s3:::${Bucket}/${ModelPrefix}/overlay-state/*",
        ]
    }
    schedule = RESOURCES["OverlaySchedule"]["Properties"]
    assert schedule["ScheduleExpression"] == {"Ref": "OverlayScheduleExpression"}
    assert TEMPLATE["Parameters"]["OverlayScheduleExpression"]["Default"] == "rate(30 minutes)"
    target = schedule["Target"]
    assert target["Arn"] == {"Fn::GetAtt": ["OverlayFunction", "Arn"]}
    assert target["DeadLetterConfig"]["Arn"] == {"Fn::GetAtt": ["OverlayScheduleDeadLetterQueue", "Arn"]}
    # the function receives the event file the tests and `make invoke FUNCTION=overlay` use
    assert json.loads(target["Input"]) == json.loads((ROOT / "tests/events/overlay_schedule.json").read_text())


def test_replaced_overlays_and_their_state_expire_after_a_day() -> None:
    rules = RESOURCES["ModelBucket"]["Properties"]["LifecycleConfiguration"]["Rules"]
    by_prefix = {json.dumps(rule.get("Prefix")): rule for rule in rules}
    for folder in ("overlays", "overlay-state"):
        rule = by_prefix[json.dumps({"Fn::Sub": f"${{ModelPrefix}}/{folder}/"})]
        assert rule["Status"] == "Enabled" and rule["NoncurrentVersionExpiration"]["NoncurrentDays"] == 1
    assert any(rule.get("AbortIncompleteMultipartUpload") for rule in rules)


RETRAINING = (
    "RetrainFunction",
    "TrainingRole",
    "TrainingFunction",
    "RetrainStateMachine",
    "RetrainScheduleDeadLetterQueue",
    "RetrainScheduleRole",
    "RetrainSchedule",
    "RetrainLogGroup",
    "TrainingLogGroup",
    "RetrainStateMachineLogGroup",
    "RetrainingFailedAlarm",
    "TrainingNearTimeLimitAlarm",
    "RetrainErrorsAlarm",
    "RetrainThrottlesAlarm",
    "RetrainDurationAlarm",
)


def test_retraining_is_in_the_stack_only_once_a_training_image_is_given() -> None:
    assert TEMPLATE["Parameters"]["TrainingImageUri"]["Default"] == ""
    assert TEMPLATE["Conditions"]["RetrainingEnabled"] == {
        "Fn::Not": [{"Fn::Equals": [{"Ref": "TrainingImageUri"}, ""]}]
    }
    conditional = {name for name, r in RESOURCES.items() if r.get("Condition") == "RetrainingEnabled"}
    assert conditional == set(RETRAINING)
    assert TEMPLATE["Outputs"]["RetrainStateMachineArn"]["Condition"] == "RetrainingEnabled"


def test_the_training_function_uploads_versions_and_can_never_make_one_live() -> None:
    function = RESOURCES["TrainingFunction"]["Properties"]
    assert function["PackageType"] == "Image" and function["Code"] == {"ImageUri": {"Ref": "TrainingImageUri"}}
    assert function["Timeout"] == 900 and function["EphemeralStorage"] == {"Size": 10240}
    assert function["ReservedConcurrentExecutions"] == 1
    by_sid = {s["Sid"]: s for s in statements(RESOURCES["TrainingRole"])}
    writes = {sid for sid, s in by_sid.items() if s["Effect"] == "Allow" and "s3:PutObject" in strings_in(s["Action"])}
    assert writes == {"UploadVersions"}
    assert strings_in(by_sid["UploadVersions"]["Resource"])[0].endswith("/${ModelPrefix}/models/*")
    deny = by_sid["NeverMoveCurrent"]
    assert deny["Effect"] == "Deny" and deny["Action"] == "s3:PutObject"
    assert strings_in(deny["Resource"])[0].endswith("/${ModelPrefix}/models/CURRENT")
    # its log group is the one its role may write to
    log_group = RESOURCES["TrainingLogGroup"]["Properties"]["LogGroupName"]
    assert log_group == {"Fn::Sub": "/aws/lambda/${AWS::StackName}-training"}
    assert function["FunctionName"] == {"Fn::Sub": "${AWS::StackName}-training"}


def test_the_retrain_steps_write_only_their_runs_and_the_current_pointer() -> None:
    assert s3_writes(RESOURCES["RetrainFunction"]) == {
        "WriteRunsAndCurrent": [
            "arn:${AWS::Partition}:s3:::${Bucket}/${ModelPrefix}/retraining/*",
            "arn:${AWS::Partition}:s3:::${Bucket}/${ModelPrefix}/models/CURRENT",
        ]
    }


def test_the_retraining_runs_weekly_and_a_failed_or_refused_run_sets_off_an_alarm() -> None:
    schedule = RESOURCES["RetrainSchedule"]["Properties"]
    assert schedule["ScheduleExpression"] == {"Ref": "RetrainScheduleExpression"}
    assert TEMPLATE["Parameters"]["RetrainScheduleExpression"]["Default"] == "rate(7 days)"
    assert schedule["Target"]["Arn"] == {"Ref": "RetrainStateMachine"}
    assert schedule["Target"]["DeadLetterConfig"]["Arn"] == {"Fn::GetAtt": ["RetrainScheduleDeadLetterQueue", "Arn"]}
    states = RESOURCES["RetrainStateMachine"]["Properties"]["Definition"]["States"]
    assert states["GateRefused"]["Type"] == "Fail" and states["GateRefused"]["Error"] == "GateRefused"
    alarm = RESOURCES["RetrainingFailedAlarm"]["Properties"]
    watched = {m["MetricStat"]["Metric"]["MetricName"] for m in alarm["Metrics"] if "MetricStat" in m}
    assert watched == {"ExecutionsFailed", "ExecutionsTimedOut", "ExecutionsAborted"}
    for metric in alarm["Metrics"]:
        if "MetricStat" in metric:
            dimensions = metric["MetricStat"]["Metric"]["Dimensions"]
            assert dimensions == [{"Name": "StateMachineArn", "Value": {"Ref": "RetrainStateMachine"}}]
    assert alarm["Threshold"] == 1 and alarm["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"


def test_the_training_image_copies_what_exists_and_runs_the_retrain_handler() -> None:
    """infra/training/Dockerfile cannot be built here (no Docker engine): what it copies must exist and get
    past the root .dockerignore, and its command must name the handler the state machine's steps run."""
    dockerfile = (ROOT / "infra/training/Dockerfile").read_text()
    ignore = [line for line in (ROOT / ".dockerignore").read_text().splitlines() if line and not line.startswith("#")]
    assert ignore[0] == "*"
    let_in = {line[1:] for line in ignore if line.startswith("!")}
    for sources in re.findall(r"^COPY (.+) \S+$", dockerfile, re.MULTILINE):
        for source in sources.split():
            assert (ROOT / source).exists(), source
            assert source in let_in, f"{source} is kept out of the build context by .dockerignore"
    module, _, attribute = json.loads(re.search(r"^CMD (.+)$", dockerfile, re.MULTILINE)[1])[0].partition(".")
    assert re.search(rf"^{attribute} = ", (ROOT / "functions/retrain" / f"{module}.py").read_text(), re.MULTILINE)
    assert RESOURCES["RetrainFunction"]["Properties"]["Handler"] == f"{module}.{attribute}"
