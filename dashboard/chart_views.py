"""GET /charts/data?range=15m|1h|24h: the overview charts' samples over that span, as JSON."""
from __future__ import annotations

from django.http import HttpRequest, JsonResponse
from django.views.decorators.http import require_GET

from dashboard.access import console_access
from dashboard.charts import DEFAULT_RANGE, RANGES, bucket_seconds, chart_samples


def chosen_range(request: HttpRequest) -> str | None:
    """The `range` the request asks for (the default when it names none); None for an unknown one."""
    name = request.GET.get("range", DEFAULT_RANGE)
    return name if name in RANGES else None


@console_access
@require_GET
def chart_data(request: HttpRequest) -> JsonResponse:
    """`{range, span_seconds, bucket_seconds, samples}`; 400 naming the choices for another range."""
    name = chosen_range(request)
    if name is None:
        return JsonResponse({"detail": f"range must be one of {', '.join(RANGES)}"}, status=400)
    span = RANGES[name]
    return JsonResponse({
        "range": name, "span_seconds": span.total_seconds(), "bucket_seconds": bucket_seconds(span),
        "samples": [s.model_dump(mode="json") for s in chart_samples(span)],
    })
