from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ("tickets", "0011_open311_keys_and_public_event_index"),
    ]

    operations = [
        migrations.AddIndex(
            model_name="ticket",
            index=models.Index(fields=["category", "reported_at"], name="ticket_category_reported_at"),
        ),
    ]
