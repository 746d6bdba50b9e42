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
