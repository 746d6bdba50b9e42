from rest_framework import serializers


class CheckSerializer(serializers.Serializer):
    ok = serializers.BooleanField()
    detail = serializers.CharField()
    latency_ms = serializers.FloatField()


class ChecksSerializer(serializers.Serializer):
    database = CheckSerializer()
    redis = CheckSerializer()
    triton = CheckSerializer()
    milvus = CheckSerializer()


class WorkersSerializer(serializers.Serializer):
    alive = serializers.IntegerField(allow_null=True, help_text="null: the broker did not answer")
    names = serializers.ListField(child=serializers.CharField())
    error = serializers.CharField(required=False)


class OutboxSerializer(serializers.Serializer):
    waiting = serializers.IntegerField(help_text="jobs not yet taken by the broker")
    oldest_s = serializers.FloatField(allow_null=True)


class IndexCheckSerializer(serializers.Serializer):
    in_step = serializers.BooleanField()
    summary = serializers.CharField()
    age_s = serializers.FloatField()


class PipelineSerializer(serializers.Serializer):
    workers = WorkersSerializer()
    oldest_expired_lease_s = serializers.FloatField(
        allow_null=True, help_text="an item whose worker died, waiting for the reaper"
    )
    outbox = OutboxSerializer()
    index_check = IndexCheckSerializer(allow_null=True)


class HealthSerializer(serializers.Serializer):
    """The public answer: up or down, nothing else."""

    status = serializers.ChoiceField(choices=["ok", "down"])


class HealthDetailSerializer(serializers.Serializer):
    """The operators' view: every check by name."""

    status = serializers.ChoiceField(choices=["ok", "degraded"])
    checks = ChecksSerializer()
    pipeline = PipelineSerializer()


# --------------------------------------------------------------------------- the dashboard


class SectionSerializer(serializers.Serializer):
    """Every section carries ``error``: null, or why its part could not be read (the rest of
    the section is then absent)."""

    error = serializers.CharField(allow_null=True)


class QueueSerializer(serializers.Serializer):
    name = serializers.CharField()
    depth = serializers.IntegerField(help_text="messages waiting (taken ones not counted)")
    oldest_age_s = serializers.FloatField(
        allow_null=True, help_text="null: empty, or its oldest message has no sent-at header"
    )


class QueuesSectionSerializer(SectionSerializer):
    queues = QueueSerializer(many=True, required=False)


class ActiveTaskSerializer(serializers.Serializer):
    task = serializers.CharField()
    task_id = serializers.CharField()
    item_id = serializers.IntegerField(allow_null=True)
    running_s = serializers.FloatField(allow_null=True)


class WorkerSerializer(serializers.Serializer):
    name = serializers.CharField()
    queues = serializers.ListField(child=serializers.CharField())
    concurrency = serializers.IntegerField(allow_null=True)
    uptime_s = serializers.IntegerField(allow_null=True)
    processed = serializers.IntegerField(help_text="tasks this worker received since it started")
    active = ActiveTaskSerializer(many=True)


class WorkersSectionSerializer(SectionSerializer):
    workers = WorkerSerializer(many=True, required=False)


class ThroughputSectionSerializer(SectionSerializer):
    minutes = serializers.IntegerField(required=False)
    done = serializers.ListField(
        child=serializers.IntegerField(), required=False, help_text="per minute, oldest first"
    )
    failed = serializers.ListField(child=serializers.IntegerField(), required=False)
    done_total = serializers.IntegerField(required=False)
    failed_total = serializers.IntegerField(required=False)


class StageSerializer(serializers.Serializer):
    name = serializers.CharField(help_text="a stored timing (fetch_ms, pipeline_ms, index_ms, ...)")
    count = serializers.IntegerField()
    p50_ms = serializers.FloatField()
    p95_ms = serializers.FloatField()


class StagesSectionSerializer(SectionSerializer):
    sampled_items = serializers.IntegerField(required=False)
    stages = StageSerializer(many=True, required=False)


class FailureGroupSerializer(serializers.Serializer):
    reason = serializers.CharField()
    count = serializers.IntegerField()
    latest = serializers.CharField(allow_null=True)
    item_ids = serializers.ListField(child=serializers.IntegerField())


class FailuresSectionSerializer(SectionSerializer):
    total = serializers.IntegerField(required=False)
    groups = FailureGroupSerializer(many=True, required=False)


class ReindexSectionSerializer(SectionSerializer):
    count = serializers.IntegerField(required=False)
    item_ids = serializers.ListField(child=serializers.IntegerField(), required=False)


class ItemsSectionSerializer(SectionSerializer):
    by_status = serializers.DictField(child=serializers.IntegerField(), required=False)
    outbox_waiting = serializers.IntegerField(required=False)
    outbox_oldest_s = serializers.FloatField(allow_null=True, required=False)


class WatchedItemSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    status = serializers.CharField(help_text="the item's status, or gone")


class WatchSectionSerializer(SectionSerializer):
    items = WatchedItemSerializer(many=True, required=False)


class BatchSerializer(serializers.Serializer):
    size = serializers.IntegerField()
    count = serializers.IntegerField(help_text="executions of this batch size")


class ModelStatsSerializer(serializers.Serializer):
    name = serializers.CharField()
    state = serializers.CharField()
    version = serializers.CharField(allow_null=True)
    inference_count = serializers.IntegerField()
    execution_count = serializers.IntegerField()
    mean_batch = serializers.FloatField(allow_null=True, help_text="inferences per execution")
    queue_ms = serializers.FloatField(allow_null=True, help_text="mean per request")
    compute_ms = serializers.FloatField(allow_null=True, help_text="mean per request")
    batches = BatchSerializer(many=True)


class TritonSectionSerializer(SectionSerializer):
    models = ModelStatsSerializer(many=True, required=False)


class MilvusIndexSerializer(serializers.Serializer):
    field = serializers.CharField()
    index_type = serializers.CharField()
    metric_type = serializers.CharField()
    params = serializers.DictField(child=serializers.CharField(), help_text="build parameters")
    state = serializers.CharField(help_text="the build's state (Finished, InProgress, ...)")
    indexed_rows = serializers.IntegerField(allow_null=True)
    pending_rows = serializers.IntegerField(allow_null=True)


class MilvusSectionSerializer(SectionSerializer):
    collection = serializers.CharField(required=False)
    uri = serializers.CharField(required=False)
    rows = serializers.IntegerField(required=False)
    item_rows = serializers.IntegerField(required=False)
    shot_rows = serializers.IntegerField(required=False)
    indexes = MilvusIndexSerializer(many=True, required=False)


class VersionsSerializer(serializers.Serializer):
    analysis = serializers.CharField(help_text="ANALYSIS_VERSION of the code that analysed it")
    concept_bank = serializers.CharField()
    models = serializers.DictField(child=serializers.CharField(), help_text="Triton model: version")


class OutdatedItemSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    kind = serializers.CharField()
    fingerprint = serializers.CharField(allow_null=True, help_text="null: recorded no versions")
    versions = VersionsSerializer(allow_null=True)


class ReprocessRunSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    created = serializers.DateTimeField()
    finished = serializers.DateTimeField(allow_null=True)
    target_fingerprint = serializers.CharField()
    current = serializers.BooleanField(help_text="its target is still the current fingerprint")
    total = serializers.IntegerField()
    done = serializers.IntegerField(help_text="ready at the target")
    failed = serializers.IntegerField()
    gone = serializers.IntegerField(help_text="deleted since")
    pending = serializers.IntegerField()


class ReprocessSectionSerializer(SectionSerializer):
    current_versions = VersionsSerializer(required=False)
    current_fingerprint = serializers.CharField(required=False)
    count = serializers.IntegerField(required=False, help_text="ready items analysed by others")
    items = OutdatedItemSerializer(many=True, required=False, help_text="the first 100, by id")
    runs = ReprocessRunSerializer(many=True, required=False, help_text="the latest 10")


class DashboardSerializer(serializers.Serializer):
    generated_at = serializers.DateTimeField()
    queues = QueuesSectionSerializer()
    workers = WorkersSectionSerializer()
    throughput = ThroughputSectionSerializer()
    stages = StagesSectionSerializer()
    failures = FailuresSectionSerializer()
    reindex = ReindexSectionSerializer()
    items = ItemsSectionSerializer()
    watch = WatchSectionSerializer()
    triton = TritonSectionSerializer()
    milvus = MilvusSectionSerializer()
    reprocess = ReprocessSectionSerializer()


class RetryRequestSerializer(serializers.Serializer):
    """Either the ids of failed items, or a failure reason (every item failed with it)."""

    ids = serializers.ListField(
        child=serializers.IntegerField(min_value=1), required=False, max_length=500
    )
    reason = serializers.CharField(required=False, max_length=1000)

    def validate(self, attrs):
        if ("ids" in attrs) == ("reason" in attrs):
            raise serializers.ValidationError("give either ids or reason")
        return attrs


class RetryResultSerializer(serializers.Serializer):
    retried = serializers.ListField(child=serializers.IntegerField())
    skipped = serializers.ListField(
        child=serializers.IntegerField(), help_text="not failed any more, or gone"
    )


class ReprocessRequestSerializer(serializers.Serializer):
    """Either the ids of items analysed by older versions, or ``all``."""

    ids = serializers.ListField(
        child=serializers.IntegerField(min_value=1), required=False, min_length=1, max_length=5000
    )
    all = serializers.BooleanField(required=False)

    def validate(self, attrs):
        if "all" in attrs and not attrs["all"]:
            raise serializers.ValidationError({"all": "only true is meaningful; omit it"})
        if ("ids" in attrs) == ("all" in attrs):
            raise serializers.ValidationError("give either ids or all: true")
        return attrs


class ReprocessStartedSerializer(serializers.Serializer):
    run = ReprocessRunSerializer()
