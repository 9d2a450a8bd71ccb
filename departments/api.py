"""Staff API: the unit tree and the category taxonomy (read-only)."""

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.views import APIView

from config.api import CodeCursorPagination, TreeCursorPagination
from departments.models import Category, Unit, UnitKind


class UnitOutput(serializers.Serializer):
    code = serializers.CharField()
    name = serializers.CharField()
    kind = serializers.ChoiceField(choices=UnitKind.choices)
    parent = serializers.CharField(source="parent.code", allow_null=True, default=None)


class DeadlineOutput(serializers.Serializer):
    amount = serializers.IntegerField()
    unit = serializers.CharField()


class CategoryDeadlinesOutput(serializers.Serializer):
    accept = serializers.SerializerMethodField()
    claim = serializers.SerializerMethodField()
    resolve = serializers.SerializerMethodField()
    feedback = serializers.SerializerMethodField()

    def _stage(self, category: Category, stage: str) -> dict:
        amount, unit = category.deadline(stage)
        return {"amount": amount, "unit": unit}

    def get_accept(self, category) -> DeadlineOutput:
        return self._stage(category, "accept")

    def get_claim(self, category) -> DeadlineOutput:
        return self._stage(category, "claim")

    def get_resolve(self, category) -> DeadlineOutput:
        return self._stage(category, "resolve")

    def get_feedback(self, category) -> DeadlineOutput:
        return self._stage(category, "feedback")


class CategoryOutput(serializers.Serializer):
    code = serializers.CharField()
    name = serializers.CharField()
    parent = serializers.CharField(source="parent.code", allow_null=True, default=None)
    routing = serializers.CharField()
    default_unit = serializers.CharField(source="default_unit.code", allow_null=True, default=None)
    deadlines = CategoryDeadlinesOutput(source="*")


class UnitFilterInput(serializers.Serializer):
    kind = serializers.ChoiceField(choices=UnitKind.values, required=False)
    parent = serializers.CharField(required=False, help_text="Code of the parent unit.")


class UnitListApi(APIView):
    @extend_schema(parameters=[UnitFilterInput], responses=UnitOutput(many=True), summary="Units, in tree order")
    def get(self, request):
        filters = UnitFilterInput(data=request.query_params)
        filters.is_valid(raise_exception=True)
        units = Unit.objects.filter(is_active=True).select_related("parent")
        if "kind" in filters.validated_data:
            units = units.filter(kind=filters.validated_data["kind"])
        if "parent" in filters.validated_data:
            units = units.filter(parent__code=filters.validated_data["parent"])
        paginator = TreeCursorPagination()
        page = paginator.paginate_queryset(units, request, view=self)
        return paginator.get_paginated_response(UnitOutput(page, many=True).data)


class CategoryListApi(APIView):
    @extend_schema(responses=CategoryOutput(many=True), summary="Categories with their deadline policies")
    def get(self, request):
        categories = Category.objects.filter(is_active=True).select_related("parent", "default_unit")
        paginator = CodeCursorPagination()
        page = paginator.paginate_queryset(categories, request, view=self)
        return paginator.get_paginated_response(CategoryOutput(page, many=True).data)
