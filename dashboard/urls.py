from django.urls import path

from dashboard import audit_views, chart_views, conflict_views, error_views, metrics, timeline_views, views

urlpatterns = [
    path("", views.overview, name="overview"),
    path("mappings/<slug:name>/<slug:action>/", views.mapping_control, name="mapping-control"),
    path("metrics", metrics.metrics, name="metrics"),
    path("charts/data", chart_views.chart_data, name="chart-data"),
    path("conflicts/", conflict_views.conflict_list, name="conflicts"),
    path("conflicts/resolve/", conflict_views.conflict_bulk_resolve, name="conflicts-resolve"),
    path("conflicts/<int:pk>/", conflict_views.conflict_detail, name="conflict-detail"),
    path("errors/", error_views.error_list, name="errors"),
    path("errors/bulk/", error_views.error_bulk, name="errors-bulk"),
    path("errors/<int:pk>/", error_views.error_detail, name="error-detail"),
    path("errors/<int:pk>/retry/", error_views.error_retry, name="error-retry"),
    path("errors/<int:pk>/discard/", error_views.error_discard, name="error-discard"),
    path("audit/", audit_views.audit_list, name="audit"),
    path("records/", timeline_views.find_record, name="find-record"),
    path("records/<str:mapping>/<str:key>/", timeline_views.record_timeline, name="record-timeline"),
]
