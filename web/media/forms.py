from django import forms

from .models import MediaItem


class UploadForm(forms.Form):
    file = forms.FileField(
        allow_empty_file=True,
        widget=forms.ClearableFileInput(attrs={"accept": "image/*,video/*,.mkv,.avi"}),
    )
    title = forms.CharField(max_length=200, required=False)
    visibility = forms.ChoiceField(
        choices=MediaItem.Visibility.choices, initial=MediaItem.Visibility.PRIVATE
    )


class VisibilityForm(forms.Form):
    visibility = forms.ChoiceField(choices=MediaItem.Visibility.choices)
