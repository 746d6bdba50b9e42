from glassbox.retrieval.scoring import SORTS
from media.api.serializers import MediaBriefSerializer
from rest_framework import serializers

from ..params import DEFAULT_LIMIT, KINDS, MAX_LIMIT, MAX_PAGE, MAX_QUERY_CHARS, OWNERS


class SearchOptionsSerializer(serializers.Serializer):
    """The query parameters every search takes (text, similar, by image): paging, order and
    the filters. Only declared for the schema: ``params.parse_options`` reads and checks them
    (a 400 problem names the field)."""

    limit = serializers.IntegerField(
        required=False, default=DEFAULT_LIMIT, min_value=1, max_value=MAX_LIMIT
    )
    page = serializers.IntegerField(required=False, default=1, min_value=1, max_value=MAX_PAGE)
    sort = serializers.ChoiceField(choices=list(SORTS), required=False)
    weaker = serializers.BooleanField(
        required=False, help_text="also return matches under the relevance cut-off"
    )
    kind = serializers.ChoiceField(choices=list(KINDS), required=False)
    owner = serializers.ChoiceField(choices=list(OWNERS), required=False)
    # published as `from` (see get_fields): a Python keyword cannot name an attribute
    date_from = serializers.DateField(
        required=False, help_text="YYYY-MM-DD: items added on or after this day"
    )
    to = serializers.DateField(
        required=False, help_text="YYYY-MM-DD: items added on or before this day (inclusive)"
    )
    tag = serializers.CharField(
        required=False, max_length=100, help_text="a concept name, leaf or broader: dog"
    )
    flagged = serializers.ChoiceField(choices=["true", "false", "any"], required=False)

    def get_fields(self):
        """The parameters under the names the server reads (``from``, not ``date_from``)."""
        fields = super().get_fields()
        return {("from" if name == "date_from" else name): f for name, f in fields.items()}


class SearchQuerySerializer(SearchOptionsSerializer):
    """Text search: the query and the options."""

    q = serializers.CharField(
        max_length=MAX_QUERY_CHARS, help_text="the words to search for (not only punctuation)"
    )


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


class MomentSerializer(serializers.Serializer):
    """Where in a video the query matches: a window of a shot, explained like a result."""

    shot = serializers.IntegerField(help_text="the window's number (GET /media/{id}/ shots)")
    start_s = serializers.FloatField()
    end_s = serializers.FloatField()
    relevance = serializers.FloatField()
    score = serializers.FloatField(help_text="the semantic cosine")
    channels = ChannelSerializer(many=True)
    contributions = ContributionSerializer(many=True)
    contributions_text = serializers.CharField()
    heatmap_url = serializers.SerializerMethodField(help_text="its keyframe with the heat map")
    justification = serializers.CharField()
    url = serializers.SerializerMethodField(help_text="the item page, playing from the moment")

    def get_heatmap_url(self, m) -> str:
        request = self.context.get("request")
        return request.build_absolute_uri(m.heatmap_url) if request else m.heatmap_url

    def get_url(self, m) -> str:
        from django.urls import reverse

        path = f"{reverse('media:detail', args=[m.item.pk])}#t={round(m.start_s, 3):g}"
        request = self.context.get("request")
        return request.build_absolute_uri(path) if request else path


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
    moments = MomentSerializer(
        many=True, help_text="a video's best-matching moments, best first (empty for an image)"
    )

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
