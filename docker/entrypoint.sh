#!/bin/sh
# The container's entry point: `mockcloud ARGS` (default `serve`); `serve` refuses to
# start without an admin token. It listens on 0.0.0.0 (MOCKCLOUD_HOST), so without one
# anybody who reaches the port could load worlds, read tokens and inject faults.
set -eu
# no command, or options only (docker run IMAGE --seed 7): they are serve's
if [ "$#" -eq 0 ] || [ "${1#-}" != "$1" ]; then
    set -- serve "$@"
fi
if [ "$1" = "serve" ] && [ -z "${MOCKCLOUD_ADMIN_TOKEN:-}" ]; then
    case " $* " in
        *" --admin-token "* | *" --admin-token="*) ;;
        *)
            echo "mockcloud: refusing to serve on ${MOCKCLOUD_HOST:-0.0.0.0} without an admin" \
                 "token: set MOCKCLOUD_ADMIN_TOKEN (docker run -e MOCKCLOUD_ADMIN_TOKEN=...)" >&2
            exit 2
            ;;
    esac
fi
exec mockcloud "$@"
