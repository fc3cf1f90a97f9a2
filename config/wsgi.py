from __future__ import annotations

import os

from django.core.wsgi import get_wsgi_application

from core.process import tune_garbage_collection

# A deployment that forgets the setting gets production's (which refuse to start without their secrets), never the
# embedded default's DEBUG and public key; dev.py and manage.py choose config.django.local themselves.
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.django.production")
application = get_wsgi_application()
tune_garbage_collection()
