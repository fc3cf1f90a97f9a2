from __future__ import annotations

import os

from django.core.wsgi import get_wsgi_application

from core.process import tune_garbage_collection

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.django.local")
application = get_wsgi_application()
tune_garbage_collection()
