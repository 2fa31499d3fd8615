"""The patient's web page behind an SMS link (/p/{token}): questions with one-tap
answers, the appointment, the contact rating, and the whole plan once the phone is
proved. Server-rendered with the admin's Jinja set-up; no scripts, no build step."""
