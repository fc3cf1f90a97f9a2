"""The start page, signing in and out, and where staff land."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.contrib.auth.forms import AuthenticationForm
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse, reverse_lazy

from core.security import SignInThrottled
from web.selectors import is_coordinator, mediator_for

LOGIN_URL = reverse_lazy("web:login")


def home(request: HttpRequest) -> HttpResponse:
    return render(request, "web/home.html")


class SignInForm(AuthenticationForm):
    """Django's sign-in, in the words of the GOV.UK design system."""

    error_messages = {
        **AuthenticationForm.error_messages,
        "invalid_login": "The username or password is not right",
        "inactive": "This account is switched off. Ask your organisation's administrator",
    }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["username"].error_messages["required"] = "Enter your username"
        self.fields["password"].error_messages["required"] = "Enter your password"


class SignInView(auth_views.LoginView):
    template_name = "web/staff/login.html"
    redirect_authenticated_user = True
    authentication_form = SignInForm

    def get_default_redirect_url(self) -> str:
        return reverse("web:staff-home")

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        try:
            return super().post(request, *args, **kwargs)
        except SignInThrottled as refused:
            # Too many failures for this account or from this address (core/security.py): the form again, empty but
            # for the username, with the reason and how long to wait; the password was not checked.
            form = self.get_form_class()(request, initial={"username": request.POST.get("username", "")[:150]})
            context = self.get_context_data(form=form, service_error=str(refused.detail))
            response = self.render_to_response(context, status=429)
            response["Retry-After"] = str(refused.wait)
            return response


class SignOutView(auth_views.LogoutView):
    http_method_names = ["post", "options"]
    next_page = reverse_lazy("web:home")


@login_required(login_url=LOGIN_URL)
def staff_home(request: HttpRequest) -> HttpResponse:
    """Coordinators go to their dashboard, mediators to their availability and meetings."""
    if is_coordinator(request.user):
        return redirect("web:dashboard")
    if mediator_for(request.user) is not None:
        return redirect("web:mediator")
    return render(request, "web/staff/no_pages.html")
