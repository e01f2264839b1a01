"""HTTP plumbing shared by both services: bounded body readers (:mod:`.bodies`) and error answers with the one
exception-to-response mapping (:mod:`.errors`).

    from servicekit.http.bodies import BodyError, read_form, read_json
    from servicekit.http.errors import exception_handlers, oauth_error_response, problem_response
"""
