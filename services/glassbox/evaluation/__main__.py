"""``python -m glassbox.evaluation``: write the evaluation report."""

from glassbox.evaluation.report import main

raise SystemExit(main())
