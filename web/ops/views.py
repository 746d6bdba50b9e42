from accounts.roles import OPERATOR
from django.contrib.auth.decorators import user_passes_test
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from . import health


def _is_operator(user) -> bool:
    return user.is_superuser or user.groups.filter(name=OPERATOR).exists()


@user_passes_test(_is_operator)
def health_page(request: HttpRequest) -> HttpResponse:
    return render(request, "ops/health.html", {"checks": health.run_checks()})
