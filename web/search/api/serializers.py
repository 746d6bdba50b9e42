from media.api.serializers import MediaBriefSerializer
from rest_framework import serializers

from ..engine import DEFAULT_LIMIT, MAX_LIMIT


class SearchQuerySerializer(serializers.Serializer):
    q = serializers.CharField(allow_blank=True, trim_whitespace=False, max_length=2000)
    limit = serializers.IntegerField(min_value=1, max_value=MAX_LIMIT, default=DEFAULT_LIMIT)


class ContributionSerializer(serializers.Serializer):
    concept_id = serializers.IntegerField(allow_null=True, help_text="null for read text")
    concept = serializers.CharField(help_text="concept name, or the read text in quotes")
    value = serializers.FloatField()
    text_index = serializers.IntegerField(allow_null=True, required=False)
    box = serializers.ListField(
        child=serializers.FloatField(),
        allow_null=True,
        required=False,
        help_text="for read text: where it is, (x0, y0, x1, y1) as fractions",
    )


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
