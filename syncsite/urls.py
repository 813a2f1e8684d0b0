from django.contrib import admin
from django.http import HttpResponsePermanentRedirect
from django.templatetags.static import static
from django.urls import include, path

from syncsite.api import api

urlpatterns = [
    path("admin/", admin.site.urls),
    path("accounts/", include("django.contrib.auth.urls")),
    path("api/v1/", api.urls),
    # Pages name their icon; this answers browsers and tools that ask for the conventional one.
    path("favicon.ico", lambda request: HttpResponsePermanentRedirect(static("dashboard/favicon.svg"))),
    path("", include("dashboard.urls")),
]
