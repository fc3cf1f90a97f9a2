from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from rest_framework.pagination import LimitOffsetPagination
from rest_framework.request import Request
from rest_framework.response import Response


class Pagination(LimitOffsetPagination):
    """limit/offset pages of PAGE_SIZE rows. A larger limit is cut to max_limit: without a cap one request could ask
    for every row, and a limit past 64 bits reached the database and failed there."""

    max_limit = 500


class PaginatedApi:
    """Mixed into an APIView whose GET answers with paginate(): the schema then shows the page (count, next, previous,
    results) and the limit and offset parameters instead of a bare list."""

    pagination_class = Pagination


def paginate(request: Request, view: Any, queryset: QuerySet[Any], serializer_class: type, **context: Any) -> Response:
    paginator = Pagination()
    page = paginator.paginate_queryset(queryset, request, view=view)
    data = serializer_class(page, many=True, context={"request": request, **context}).data
    return paginator.get_paginated_response(data)
