"""Open sockets follow changes of access: a membership removed or changed, an account
disabled, a unit moved in the tree. Model signals catch every writer (admin, commands)."""

from django.contrib.auth import get_user_model
from django.db.models.signals import post_delete, post_save

from departments.models import Membership, Unit
from tickets import broadcast


def _membership_changed(sender, instance, **kwargs):
    broadcast.announce_access_change(instance.user_id)


def _user_saved(sender, instance, created, update_fields=None, **kwargs):
    # Every login saves last_login: that changes no access.
    if not created and set(update_fields or ()) != {"last_login"}:
        broadcast.announce_access_change(instance.pk)


def _unit_saved(sender, instance, **kwargs):
    broadcast.forget_units()


def connect() -> None:
    post_save.connect(_membership_changed, sender=Membership, dispatch_uid="ws-membership-saved")
    post_delete.connect(_membership_changed, sender=Membership, dispatch_uid="ws-membership-deleted")
    post_save.connect(_user_saved, sender=get_user_model(), dispatch_uid="ws-user-saved")
    post_save.connect(_unit_saved, sender=Unit, dispatch_uid="ws-unit-saved")
