"""API (and two pages) for what happens after the meeting: outcomes and agreed actions, certificates, commissioners'
reports, the audit trail, one person's data, and the family's feedback form."""

from __future__ import annotations

import csv
import io
from typing import Any

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import path
from django.utils import timezone
from django.views.decorators.http import require_http_methods
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from booking import audit, certificates, feedback, outcomes, reports, retention, selectors, services
from booking.meeting_apis import FamilyThrottle
from booking.models import AgreedAction, Certificate, Outcome
from core.clock import local_today
from core.errors import ApplicationError, ConflictError
from core.fields import IdField, StrictBooleanField
from core.openapi import errors
from core.pagination import PaginatedApi, paginate

# --- outcomes and agreed actions --------------------------------------------------------------------------------


class ActionInput(serializers.Serializer):
    owner = serializers.ChoiceField(choices=AgreedAction.Owner.choices)
    description = serializers.CharField(max_length=4000)
    appealable = StrictBooleanField()
    reg44_kind = serializers.ChoiceField(choices=AgreedAction.REG44_CHOICES, required=False, allow_blank=True)
    icb_tells_la = StrictBooleanField(required=False, default=False)
    agreed_in_writing = serializers.DateField(required=False, allow_null=True)


class ActionOutput(serializers.Serializer):
    id = serializers.IntegerField()
    owner = serializers.CharField()
    description = serializers.CharField()
    appealable = serializers.BooleanField()
    reg44_kind = serializers.CharField()
    icb_tells_la = serializers.BooleanField()
    agreed_in_writing = serializers.DateField(allow_null=True)
    due = serializers.DateField()
    rule = serializers.CharField()
    rule_version = serializers.CharField()
    done_on = serializers.DateField(allow_null=True)
    overdue = serializers.SerializerMethodField()

    def get_overdue(self, action: AgreedAction) -> bool:
        return outcomes.action_is_overdue(action, today=local_today())


class OutcomeInput(serializers.Serializer):
    result = serializers.ChoiceField(choices=Outcome.Result.choices)
    mediation_date = serializers.DateField(required=False)
    agreement_date = serializers.DateField(required=False, allow_null=True)
    la_was_party = StrictBooleanField(required=False, default=True)
    summary = serializers.CharField(required=False, allow_blank=True, max_length=10000)
    private_notes = serializers.CharField(required=False, allow_blank=True, max_length=10000)
    actions = ActionInput(many=True, required=False)


class OutcomeOutput(serializers.Serializer):
    result = serializers.CharField()
    mediation_date = serializers.DateField()
    agreement_date = serializers.DateField(allow_null=True)
    la_was_party = serializers.BooleanField()
    summary = serializers.CharField()
    recorded_by = serializers.CharField(source="recorded_by_label")
    recorded_at = serializers.DateTimeField()
    actions = ActionOutput(many=True)


def outcome_body(request: Request, case: Any) -> dict[str, Any]:
    outcome = Outcome.objects.filter(case=case).prefetch_related("actions").first()
    body: dict[str, Any] = {"case": case.pk, "state": case.state, "outcome": None}
    if outcome is not None:
        body["outcome"] = OutcomeOutput(outcome).data
        if outcomes.can_read_private_notes(user=request.user, case=case):
            body["outcome"]["private_notes"] = outcome.private_notes
    return body


def _can_record(request: Request, case: Any) -> None:
    if not outcomes.outcome_can_record(user=request.user, case=case):
        raise PermissionDenied


class CaseOutcomeApi(APIView):
    @extend_schema(responses={200: dict, **errors(401, 404)})
    def get(self, request: Request, case_id: int) -> Response:
        return Response(outcome_body(request, selectors.case_get(user=request.user, case_id=case_id)))

    @extend_schema(request=OutcomeInput, responses={201: dict, **errors(400, 401, 403, 404, 409)})
    def post(self, request: Request, case_id: int) -> Response:
        case = selectors.case_get(user=request.user, case_id=case_id)
        _can_record(request, case)
        data = OutcomeInput(data=request.data)
        data.is_valid(raise_exception=True)
        now = timezone.now()
        outcome = outcomes.outcome_record(
            case=case, actor=request.user, now=now, today=local_today(now), **data.validated_data
        )
        return Response(outcome_body(request, outcome.case), status=status.HTTP_201_CREATED)


class ActionFilter(serializers.Serializer):
    overdue = serializers.ChoiceField(choices=["true", "false"], required=False)


class CaseActionListApi(PaginatedApi, APIView):
    @extend_schema(parameters=[ActionFilter], responses={200: ActionOutput(many=True), **errors(400, 401, 404)})
    def get(self, request: Request, case_id: int) -> Response:
        case = selectors.case_get(user=request.user, case_id=case_id)
        params = ActionFilter(data=request.query_params)
        params.is_valid(raise_exception=True)
        actions = AgreedAction.objects.filter(outcome__case=case).order_by("due", "id")
        if params.validated_data.get("overdue") == "true":
            actions = actions.filter(done_on__isnull=True, due__lt=local_today())
        return paginate(request, self, actions, ActionOutput)

    @extend_schema(request=ActionInput, responses={201: ActionOutput, **errors(400, 401, 403, 404, 409)})
    def post(self, request: Request, case_id: int) -> Response:
        case = selectors.case_get(user=request.user, case_id=case_id)
        _can_record(request, case)
        data = ActionInput(data=request.data)
        data.is_valid(raise_exception=True)
        outcome = Outcome.objects.filter(case=case).first()
        if outcome is None:
            raise ConflictError("Record the outcome of the mediation first.")
        action = outcomes.action_add(outcome=outcome, actor=request.user, **data.validated_data)
        return Response(ActionOutput(action).data, status=status.HTTP_201_CREATED)


class ActionUpdateInput(serializers.Serializer):
    done = StrictBooleanField()
    done_on = serializers.DateField(required=False, help_text="Default today (Europe/London)")


class ActionUpdateApi(APIView):
    @extend_schema(request=ActionUpdateInput, responses={200: ActionOutput, **errors(400, 401, 403, 404)})
    def patch(self, request: Request, action_id: int) -> Response:
        action = outcomes.action_get(user=request.user, action_id=action_id)
        if not outcomes.action_can_update(user=request.user, case=action.outcome.case):
            raise PermissionDenied
        data = ActionUpdateInput(data=request.data)
        data.is_valid(raise_exception=True)
        today = local_today()
        done_on = data.validated_data.get("done_on", today) if data.validated_data["done"] else None
        action = outcomes.action_mark_done(action=action, actor=request.user, done_on=done_on, today=today)
        return Response(ActionOutput(action).data)


# --- certificates -------------------------------------------------------------------------------------------------


class CertificateOutput(serializers.Serializer):
    id = serializers.IntegerField()
    case = serializers.IntegerField(source="case_id")
    kind = serializers.CharField()
    issuer = serializers.CharField(source="issuer.name")
    local_authority = serializers.CharField(source="local_authority.name")
    decision_sent = serializers.DateField(allow_null=True)
    trigger_date = serializers.DateField()
    due_on = serializers.DateField()
    issued_on = serializers.DateField()
    on_time = serializers.SerializerMethodField()
    appeal_deadline = serializers.DateField(allow_null=True)
    appeal_rule = serializers.CharField()
    sha256 = serializers.CharField()
    download = serializers.SerializerMethodField()

    def get_on_time(self, certificate: Certificate) -> bool:
        return certificate.issued_on <= certificate.due_on

    def get_download(self, certificate: Certificate) -> str:
        return certificates.staff_download_url(certificate)


class CertificateIssueApi(APIView):
    @extend_schema(request=None, responses={201: CertificateOutput, **errors(401, 403, 404, 409)})
    def post(self, request: Request, case_id: int) -> Response:
        case = selectors.case_get(user=request.user, case_id=case_id)
        _can_record(request, case)  # the mediator or the provider, never the LA (s.56)
        certificate = certificates.certificate_issue(case=case, actor=request.user, now=timezone.now())
        return Response(CertificateOutput(certificate).data, status=status.HTTP_201_CREATED)


def _pdf(certificate: Certificate) -> HttpResponse:
    response = HttpResponse(bytes(certificate.pdf), content_type="application/pdf")
    response["Content-Disposition"] = f'inline; filename="mediation-certificate-{certificate.case.reference}.pdf"'
    response["Cache-Control"] = "private, no-store"
    return response


class CertificatePdfApi(APIView):
    @extend_schema(responses={(200, "application/pdf"): bytes, **errors(401, 404)})
    def get(self, request: Request, case_id: int) -> HttpResponse:
        case = selectors.case_get(user=request.user, case_id=case_id)
        return _pdf(certificates.certificate_latest(case=case))


class CertificateFamilyPdfApi(APIView):
    """The family's copy, by the signed link in their email. No account needed."""

    permission_classes = [AllowAny]
    authentication_classes: list[Any] = []
    throttle_classes = [FamilyThrottle]

    @extend_schema(responses={(200, "application/pdf"): bytes, **errors(404, 429)}, auth=[])
    def get(self, request: Request, token: str) -> HttpResponse:
        certificate = certificates.certificate_from_link(token)
        if certificate is None:
            raise Http404
        return _pdf(certificate)


# --- reports ------------------------------------------------------------------------------------------------------


class ReportFilter(serializers.Serializer):
    local_authority = IdField()
    month = serializers.CharField(max_length=7)

    def validate_month(self, value: str) -> reports.Month:
        try:
            return reports.Month.parse(value)
        except ValueError as exc:
            raise serializers.ValidationError(str(exc)) from None


def _report(request: Request) -> dict[str, Any]:
    params = ReportFilter(data=request.query_params)
    params.is_valid(raise_exception=True)
    v = params.validated_data
    return reports.report_get(user=request.user, local_authority_id=v["local_authority"], month=v["month"])


class ReportApi(APIView):
    """The month's figures for one local authority: aggregates only."""

    @extend_schema(parameters=[ReportFilter], responses={200: dict, **errors(400, 401, 404)})
    def get(self, request: Request) -> Response:
        return Response(_report(request))


class ReportCsvApi(APIView):
    @extend_schema(parameters=[ReportFilter], responses={(200, "text/csv"): str, **errors(400, 401, 404)})
    def get(self, request: Request) -> HttpResponse:
        report = _report(request)
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(["local_authority", "month", "figure", "value"])
        writer.writerows(reports.report_csv_rows(report))
        response = HttpResponse(buffer.getvalue(), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="mediation-report-{report["month"]}.csv"'
        return response


# --- the audit trail ----------------------------------------------------------------------------------------------


class AuditOutput(serializers.Serializer):
    id = serializers.IntegerField()
    at = serializers.DateTimeField()
    actor = serializers.CharField(source="actor_label")
    actor_kind = serializers.CharField()
    action = serializers.CharField()
    object_type = serializers.CharField()
    object_id = serializers.IntegerField()
    path = serializers.CharField()
    via = serializers.CharField()
    fields = serializers.ListField(child=serializers.CharField())


class CaseAuditListApi(PaginatedApi, APIView):
    """Coordinators of the case's provider or LA only."""

    @extend_schema(responses={200: AuditOutput(many=True), **errors(401, 403, 404)})
    def get(self, request: Request, case_id: int) -> Response:
        case = selectors.case_get(user=request.user, case_id=case_id)
        services.case_assert_editable(user=request.user, case=case)
        return paginate(request, self, audit.audit_list_for_case(case=case), AuditOutput)


# --- one person's data --------------------------------------------------------------------------------------------


class PersonInput(serializers.Serializer):
    email = serializers.EmailField()


class PersonExportApi(APIView):
    """Everything held about one person (by email address) on the cases the coordinator looks after."""

    @extend_schema(parameters=[PersonInput], responses={200: dict, **errors(400, 401, 404)})
    def get(self, request: Request) -> Response:
        params = PersonInput(data=request.query_params)
        params.is_valid(raise_exception=True)
        return Response(retention.person_export(user=request.user, email=params.validated_data["email"]))


class PersonEraseApi(APIView):
    @extend_schema(request=PersonInput, responses={200: dict, **errors(400, 401, 404, 409)})
    def post(self, request: Request) -> Response:
        data = PersonInput(data=request.data)
        data.is_valid(raise_exception=True)
        count = retention.person_erase(user=request.user, email=data.validated_data["email"], now=timezone.now())
        return Response({"erased": count})


# --- family feedback ----------------------------------------------------------------------------------------------


class FeedbackInput(serializers.Serializer):
    score = serializers.IntegerField(min_value=1, max_value=5)
    comment = serializers.CharField(required=False, allow_blank=True, max_length=2000, default="")


def _feedback_or_404(token: str) -> Any:
    request = feedback.feedback_from_token(token)
    if request is None:
        raise Http404
    return request


class FeedbackApi(APIView):
    """The family's feedback form by its link: nothing about the case is shown."""

    permission_classes = [AllowAny]
    authentication_classes: list[Any] = []
    throttle_classes = [FamilyThrottle]

    @extend_schema(responses={200: dict, **errors(404, 429)}, auth=[])
    def get(self, request: Request, token: str) -> Response:
        item = _feedback_or_404(token)
        return Response({"answered": item.answered_at is not None, "expires_at": item.expires_at})

    @extend_schema(request=FeedbackInput, responses={200: dict, **errors(400, 404, 409, 410, 429)}, auth=[])
    def post(self, request: Request, token: str) -> Response:
        item = _feedback_or_404(token)
        data = FeedbackInput(data=request.data)
        data.is_valid(raise_exception=True)
        feedback.feedback_answer(request=item, now=timezone.now(), **data.validated_data)
        return Response({"answered": True})


# --- pages --------------------------------------------------------------------------------------------------------


def _chart(title: str, items: dict[str, Any], *, percent: bool = False) -> dict[str, Any]:
    """Bars for an inline SVG, laid out here so the template only draws them."""
    values = {label: (value or 0) for label, value in items.items()}
    top = 1.0 if percent else max([*values.values(), 1])
    width, row = 300, 26
    bars = [
        {
            "label": label.replace("_", " "),
            "value": f"{round(value * 100)}%" if percent else value,
            "y": index * row,
            "width": round(width * value / top, 1),
            "text_y": index * row + 15,
        }
        for index, (label, value) in enumerate(values.items())
    ]
    return {"title": title, "bars": bars, "height": max(len(bars), 1) * row}


def _charts(f: dict[str, Any]) -> list[dict[str, Any]]:
    shares = {
        "held within 30 days": f["held_within_30_days_share"],
        "certificates in 3 working days": f["certificates_within_3_working_days_share"],
        "emails sent": f["message_delivery"]["email"]["success_share"],
        "SMS sent": f["message_delivery"]["sms"]["success_share"],
        "feedback answered": f["feedback"]["response_share"],
    }
    return [
        _chart("Timeliness and delivery", shares, percent=True),
        _chart("Outcomes", f["outcomes"]),
        _chart("Cancellations by who cancelled", f["cancellations_by"]),
        _chart("Family feedback scores", f["feedback"]["scores"]),
        _chart("Certificates by route", f["certificates_by_kind"]),
    ]


@login_required
@require_http_methods(["GET"])
def report_page(request: HttpRequest) -> HttpResponse:
    authorities = reports.report_authorities(user=request.user)
    if not authorities:
        raise Http404
    chosen = request.GET.get("local_authority") or str(authorities[0].pk)
    month_text = request.GET.get("month") or local_today().strftime("%Y-%m")
    try:
        month = reports.Month.parse(month_text)
        report = reports.report_get(user=request.user, local_authority_id=int(chosen), month=month)
    except (ValueError, TypeError):
        error = {"error": "Choose a local authority and a month (YYYY-MM)."}
        return render(request, "booking/reports/report.html", error, status=400)
    context = {
        "report": report,
        "f": report["figures"],
        "charts": _charts(report["figures"]),
        "authorities": authorities,
        "month": str(month),
        "csv_query": f"local_authority={report['local_authority']['id']}&month={month}",
    }
    return render(request, "booking/reports/report.html", context)


@require_http_methods(["GET", "POST"])
def feedback_page(request: HttpRequest, token: str) -> HttpResponse:
    item = feedback.feedback_from_token(token)
    if item is None:
        raise Http404
    context: dict[str, Any] = {"item": item, "scores": range(1, 6)}
    if request.method == "POST":
        try:
            score = int(request.POST.get("score", ""))
        except ValueError:
            score = 0
        try:
            feedback.feedback_answer(
                request=item, score=score, comment=request.POST.get("comment", ""), now=timezone.now()
            )
        except ValidationError:
            context["error"] = "Choose a score from 1 to 5."
            return render(request, "booking/reports/feedback.html", context, status=400)
        except ApplicationError as exc:
            context["error"] = exc.message
            return render(request, "booking/reports/feedback.html", context, status=exc.status_code)
        context["thanks"] = True
    return render(request, "booking/reports/feedback.html", context)


# Served outside /api/: config/urls.py includes these with path("", include(page_urlpatterns)).
page_urlpatterns = [
    path("reports/", report_page, name="reports"),
    path("feedback/<str:token>/", feedback_page, name="feedback"),
]
