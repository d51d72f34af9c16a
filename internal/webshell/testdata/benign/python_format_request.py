#!/usr/bin/env python3
"""Interactive help, written for the webshell tests (not a shell).

Mentions ASP syntax only in strings and comments.
"""
# A template engine would write <% name %> here; this file does not.


class Helper:
    def __repr__(self):
        return '<%s instance>' % self.__class__.__name__

    def request(self, line):
        return line.strip()

    def interact(self, request):
        while True:
            request = self.request(input('help> '))
            if not request:
                break
            if len(request) > 2 and request[0] == request[-1] in ("'", '"'):
                request = request[1:-1]
            self.doc(eval(request), 'Help on %s:')

    def doc(self, thing, title):
        print(title % thing)


PATTERN = r'(<%)(.*?)(%>)'
