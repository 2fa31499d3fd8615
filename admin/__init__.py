"""The thin web surface for clinics and the exchange: server-rendered pages (Jinja) that
call the same services as the API. No build step, no CDN."""
