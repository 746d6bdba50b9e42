from django.apps import AppConfig


class ModerationConfig(AppConfig):
    name = "moderation"
    verbose_name = "Moderation"

    def ready(self) -> None:
        # Items hidden by moderation leave other users' querysets (media.models.items), and
        # a bad policy file stops the process at start-up, naming the file and the field.
        from . import active, visibility

        visibility.install()
        active.check_policy_file()
