"""``python -m glassbox.tools.smoke MODEL [--url HOST:PORT]``: see the package's docstring."""

from __future__ import annotations

import argparse
import sys

import tritonclient.http as httpclient
from tritonclient.utils import InferenceServerException

from glassbox.config import get_settings
from glassbox.tools.smoke import __doc__ as USAGE
from glassbox.tools.smoke.checks import CHECKS, Report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m glassbox.tools.smoke",
        description=USAGE,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("model", choices=[*CHECKS, "all"], help="the model to check, or all")
    parser.add_argument("--url", default=get_settings().triton_url, help="Triton HTTP host:port")
    parser.add_argument("--timeout", type=float, default=60.0)
    args = parser.parse_args(argv)
    models = list(CHECKS) if args.model == "all" else [args.model]
    repo = get_settings().model_repository
    client = httpclient.InferenceServerClient(
        args.url, concurrency=2, connection_timeout=args.timeout, network_timeout=args.timeout
    )
    report = Report()
    try:
        if not client.is_server_ready():
            print(f"Triton at {args.url} is not ready", file=sys.stderr)
            return 2
        for model in models:
            report.check(client.is_model_ready(model), f"{model} is ready at {args.url}")
        for model in models:
            CHECKS[model](client, repo, report)
    except (InferenceServerException, ConnectionError, OSError) as exc:
        print(f"smoke: cannot talk to Triton at {args.url}: {exc}", file=sys.stderr)
        return 2
    finally:
        client.close()
    print("smoke: OK" if report.failures == 0 else f"smoke: {report.failures} check(s) FAILED")
    return 0 if report.failures == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
