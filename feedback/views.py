from django.shortcuts import render

from .selectors import home_summary


def home(request):
    return render(request, "feedback/home.html", {"summary": home_summary()})
