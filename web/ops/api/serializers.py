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


class HealthSerializer(serializers.Serializer):
    """The public answer: up or down, nothing else."""

    status = serializers.ChoiceField(choices=["ok", "down"])


class HealthDetailSerializer(serializers.Serializer):
    """The operators' view: every check by name."""

    status = serializers.ChoiceField(choices=["ok", "degraded"])
    checks = ChecksSerializer()
