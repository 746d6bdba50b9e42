from media.api.serializers import MediaBriefSerializer
from rest_framework import serializers

from ..engine import DEFAULT_LIMIT, MAX_LIMIT


class SearchQuerySerializer(serializers.Serializer):
    q = serializers.CharField(allow_blank=True, trim_whitespace=False, max_length=2000)
    limit = serializers.IntegerField(min_value=1, max_value=MAX_LIMIT, default=DEFAULT_LIMIT)


class ContributionSerializer(serializers.Serializer):
    concept_id = serializers.IntegerField()
    concept = serializers.CharField()
    value = serializers.FloatField()


class ResultSerializer(serializers.Serializer):
    item = MediaBriefSerializer()
    score = serializers.FloatField()
    contributions = ContributionSerializer(many=True)
    contributions_text = serializers.CharField()
    heatmap_url = serializers.SerializerMethodField()
    justification = serializers.CharField()

    def get_heatmap_url(self, result) -> str:
        request = self.context.get("request")
        return request.build_absolute_uri(result.heatmap_url) if request else result.heatmap_url


class SearchResponseSerializer(serializers.Serializer):
    query = serializers.CharField()
    results = ResultSerializer(many=True)
