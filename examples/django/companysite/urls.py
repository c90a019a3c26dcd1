"""The example's URLs: the lead form, a company's page and the admin (leads, history, handoffs)."""

from crm import views
from django.contrib import admin
from django.urls import path

urlpatterns = [
    path("", views.capture, name="capture"),
    path("companies/<slug:slug>/", views.company, name="company"),
    path("companies/<slug:slug>/<str:event>/", views.move, name="move"),
    path("admin/", admin.site.urls),
]
