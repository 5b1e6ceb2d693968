# The Python reference: hello world as a WSGI app, for uWSGI (behind nginx) and Gunicorn.
BODY = b"Hello from tsgw\n"


def application(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(BODY)))])
    return [BODY]


app = application
