"""Drop this process's cached calendar as soon as staff edit it."""

from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from departments import calendar
from departments.models import CalendarDay


@receiver([post_save, post_delete], sender=CalendarDay)
def calendar_changed(**kwargs) -> None:
    calendar.clear_cache()
