from media.api.serializers import MediaBriefSerializer
from rest_framework import serializers

from ..params import DEFAULT_LIMIT, MAX_LIMIT, MAX_PAGE


class SearchQuerySerializer(serializers.Serializer):
    """Query parameters; the filters are checked by ``params.parse_filters`` (400 names the
    field). Only declared here for the schema."""

    q = serializers.CharField(allow_blank=True, trim_whitespace=False, max_length=20000)
    limit = serializers.IntegerField(
        required=False, default=DEFAULT_LIMIT, help_text=f"1..{MAX_LIMIT}"
    )
    page = serializers.IntegerField(required=False, default=1, help_text=f"1..{MAX_PAGE}")
    sort = serializers.ChoiceField(choices=["relevance", "date"], required=False)
    weaker = serializers.BooleanField(
        required=False, help_text="also return matches under the relevance cut-off"
    )
    kind = serializers.CharField(required=False, help_text="image or video")
    owner = serializers.ChoiceField(choices=["any", "mine", "public"], required=False)
    # "from" is a Python keyword: declared under another name, documented under its own
    date_from = serializers.DateField(
        required=False, help_text="query parameter `from`: YYYY-MM-DD"
    )
    to = serializers.DateField(required=False, help_text="YYYY-MM-DD, inclusive")
    tag = serializers.CharField(required=False, help_text="a concept name, leaf or broader: dog")
    flagged = serializers.ChoiceField(choices=["true", "false", "any"], required=False)


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


class ChannelSerializer(serializers.Serializer):
    name = serializers.CharField(help_text="semantic, caption, ocr; appearance, concepts")
    probability = serializers.FloatField(
        help_text="text search: the channel's calibrated probability; similar: its cosine"
    )
    score = serializers.FloatField(help_text="raw: cosine, or the share of query words found")
    summary = serializers.CharField()
    words = serializers.ListField(child=serializers.CharField())
    text = serializers.CharField(help_text="the caption phrase or read line that matched")
    boxes = serializers.ListField(child=serializers.ListField(child=serializers.FloatField()))


class ResultSerializer(serializers.Serializer):
    item = MediaBriefSerializer()
    relevance = serializers.FloatField(
        help_text="text search: calibrated probability of relevance; similar: similarity"
    )
    score = serializers.FloatField(help_text="the semantic cosine")
    channels = ChannelSerializer(many=True)
    contributions = ContributionSerializer(many=True)
    contributions_text = serializers.CharField()
    heatmap_url = serializers.SerializerMethodField()
    justification = serializers.CharField()
    matched_words = serializers.DictField(
        child=serializers.ListField(child=serializers.CharField())
    )
    unmatched_words = serializers.ListField(child=serializers.CharField())
    duplicates = MediaBriefSerializer(many=True, help_text="near-duplicates grouped here")
    appearance = serializers.FloatField(allow_null=True)

    def get_heatmap_url(self, result) -> str:
        request = self.context.get("request")
        return request.build_absolute_uri(result.heatmap_url) if request else result.heatmap_url


class SearchResponseSerializer(serializers.Serializer):
    mode = serializers.CharField(help_text="text or similar")
    query = serializers.CharField()
    page = serializers.IntegerField()
    limit = serializers.IntegerField()
    sort = serializers.CharField()
    weaker = serializers.BooleanField()
    cutoff = serializers.FloatField(help_text="results under it are hidden unless weaker=true")
    matched = serializers.IntegerField(help_text="results at or above the cut-off")
    hidden = serializers.IntegerField(help_text="weaker matches not returned")
    has_next = serializers.BooleanField()
    unmatched_words = serializers.ListField(child=serializers.CharField())
    results = ResultSerializer(many=True)
