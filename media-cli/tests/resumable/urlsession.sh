#!/usr/bin/env bash
# The IETF "Resumable Uploads for HTTP" draft as iOS 17+ URLSession runs it, done with curl:
#   1. POST the whole file with Upload-Complete: ?1 (interop 5-6; Upload-Incomplete: ?0 for
#      3-4); the server's 104 (Upload Resumption Supported) carries the upload's Location;
#   2. the link drops midway (here: curl gives up after 2 s at 4 MB/s);
#   3. HEAD the Location for Upload-Offset;
#   4. PATCH the rest from that offset, marked complete.
# Usage: urlsession.sh API TOKEN FILE INTEROP_VERSION; prints key=value lines.
set -euo pipefail
api=$1 token=$2 file=$3 version=$4
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
if [ "$version" -ge 5 ]; then done_header="Upload-Complete: ?1"; flag=upload-complete
else done_header="Upload-Incomplete: ?0"; flag=upload-incomplete; fi

# 1-2. The whole file in one request, cut by the client's own deadline (exit 28).
set +e
curl -sS -o /dev/null -D "$work/post" --limit-rate 4M --max-time 2 \
  -H "Authorization: Bearer $token" -H "Upload-Draft-Interop-Version: $version" \
  -H "$done_header" -H "Content-Type: application/octet-stream" \
  --data-binary "@$file" "$api/api/v1/uploads"
rc=$?
set -e
[ "$rc" -eq 28 ] || { echo "expected the POST to be cut (curl exit 28), got $rc" >&2; exit 1; }
interim=$(tr -d '\r' < "$work/post" | awk 'NR==1 {print $2}')
location=$(tr -d '\r' < "$work/post" | awk 'tolower($1)=="location:" {print $2; exit}')
echo "interim_status=$interim"
echo "interim_location=$location"
[ -n "$location" ] || { echo "no Location in the interim response" >&2; exit 1; }
sleep 0.5

# 3. Where to go on from.
curl -sS -I -H "Authorization: Bearer $token" -H "Upload-Draft-Interop-Version: $version" \
  "$api$location" | tr -d '\r' > "$work/head"
offset=$(awk 'tolower($1)=="upload-offset:" {print $2}' "$work/head")
echo "offset=$offset"
echo "head_complete=$(awk -v f="$flag:" 'tolower($1)==f {print $2}' "$work/head")"

# 4. The rest.
tail -c +"$((offset + 1))" "$file" > "$work/rest"
curl -sS -o /dev/null -D "$work/patch" -X PATCH \
  -H "Authorization: Bearer $token" -H "Upload-Draft-Interop-Version: $version" \
  -H "$done_header" -H "Upload-Offset: $offset" -H "Content-Type: application/partial-upload" \
  --data-binary "@$work/rest" "$api$location"
tr -d '\r' < "$work/patch" | awk '$1 ~ /^HTTP/ && $2 >= 200 {print "final_status=" $2}'
echo "media_id=$(tr -d '\r' < "$work/patch" | awk 'tolower($1)=="media-id:" {print $2}')"
