"""Who is calling: Firebase ID tokens in, our own short-lived JWTs out."""
