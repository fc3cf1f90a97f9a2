# Calendar connections (CalDAV) and the meetings written into them.

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('booking', '0002_offers_meetings_constraints'),
        ('scheduling', '0002_resources_and_occupancy'),
    ]

    operations = [
        migrations.CreateModel(
            name='CalendarConnection',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('server_url', models.URLField(max_length=500)),
                ('username', models.CharField(max_length=200)),
                ('password_encrypted', models.TextField(editable=False)),
                ('calendar_url', models.URLField(max_length=500)),
                ('calendar_name', models.CharField(blank=True, max_length=200)),
                ('push_enabled', models.BooleanField(default=True, help_text="Write this resource's meetings into the calendar")),
                ('sync_token', models.TextField(blank=True)),
                ('sync_mode', models.CharField(blank=True, max_length=10)),
                ('etags', models.JSONField(blank=True, default=dict, help_text='href → ETag of every resource in the calendar')),
                ('synced_until', models.DateTimeField(blank=True, help_text='End of the window busy time was read for', null=True)),
                ('last_sync_at', models.DateTimeField(blank=True, help_text='Last attempt, good or not', null=True)),
                ('last_success_at', models.DateTimeField(blank=True, null=True)),
                ('last_error', models.TextField(blank=True)),
                ('consecutive_failures', models.PositiveIntegerField(default=0)),
                ('breaker_open_until', models.DateTimeField(blank=True, null=True)),
                ('sync_claimed_until', models.DateTimeField(blank=True, null=True)),
                ('created_at', models.DateTimeField(auto_now_add=True)),
                ('resource', models.OneToOneField(on_delete=django.db.models.deletion.CASCADE, related_name='calendar_connection', to='scheduling.resource')),
            ],
            options={
                'ordering': ['id'],
            },
        ),
        migrations.CreateModel(
            name='CalendarEvent',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('etag', models.CharField(blank=True, max_length=200)),
                ('sequence', models.IntegerField(default=-1, help_text="The meeting's SEQUENCE last written or deleted")),
                ('deleted', models.BooleanField(default=False, help_text='Removed from the calendar (cancelled or uninvited)')),
                ('pushed_at', models.DateTimeField(blank=True, null=True)),
                ('last_error', models.TextField(blank=True)),
                ('connection', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='events', to='scheduling.calendarconnection')),
                ('meeting', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='calendar_events', to='booking.meeting')),
            ],
        ),
        migrations.AddIndex(
            model_name='calendarconnection',
            index=models.Index(fields=['last_sync_at'], name='calendarconn_sync_due'),
        ),
        migrations.AddConstraint(
            model_name='calendarevent',
            constraint=models.UniqueConstraint(fields=('connection', 'meeting'), name='calendarevent_once'),
        ),
    ]
