# md2man.awk — turn one of our doc/*.md pages into a man page, so the
# installed ustack.yaml(5) and ustack(3) say exactly what doc/CONFIG.md and
# doc/API.md say (one source, no second copy to drift).
#
#   awk -v name=USTACK.YAML -v section=5 -v title="ustack configuration file" \
#       -v date=2026-12-05 -f tools/md2man.awk doc/CONFIG.md > ustack.yaml.5
#
# Handles what our docs use: "#" headings, paragraphs, "-" lists, fenced
# code blocks, pipe tables (rendered as indented "a | b" lines, readable
# without tbl), `code`, **bold** and *italic*. The first "# " heading
# becomes NAME's description line.

function esc(s) {
	gsub(/\\/, "\\e", s)
	# A line may not start with "." or "'" (roff requests).
	if (s ~ /^[.']/)
		s = "\\&" s
	return s
}

function inline(s,    out, n, i, codes) {
	# Code spans first, kept aside so that * and _ inside them stay literal.
	n = 0
	out = ""
	while (match(s, /`[^`]*`/)) {
		codes[++n] = substr(s, RSTART + 1, RLENGTH - 2)
		out = out substr(s, 1, RSTART - 1) "\001" n "\002"
		s = substr(s, RSTART + RLENGTH)
	}
	s = esc(out s)
	while (match(s, /\*\*[^*]+\*\*/))
		s = substr(s, 1, RSTART - 1) "\\fB" substr(s, RSTART + 2, RLENGTH - 4) "\\fR" \
		    substr(s, RSTART + RLENGTH)
	while (match(s, /\*[^* ][^*]*\*/))
		s = substr(s, 1, RSTART - 1) "\\fI" substr(s, RSTART + 1, RLENGTH - 2) "\\fR" \
		    substr(s, RSTART + RLENGTH)
	for (i = 1; i <= n; i++) {
		match(s, "\001" i "\002")
		s = substr(s, 1, RSTART - 1) "\\fB" esc(codes[i]) "\\fR" substr(s, RSTART + RLENGTH)
	}
	return s
}

# Paragraphs and list items are gathered whole, so that **bold** may span
# the source's line breaks.
function flush() {
	if (para != "") {
		print (item ? ".IP \\(bu 2" : ".PP")
		print inline(para)
	}
	para = ""; item = 0
}

BEGIN {
	if (section == "") section = 7
	printf ".TH %s %s \"%s\" \"ustack\" \"%s\"\n", name, section, date, \
	    section == 3 ? "Library Functions Manual" : "File Formats Manual"
	code = 0; named = 0; para = ""; item = 0
}

/^```/ {
	flush()
	if (!code) { print ".PP"; print ".nf"; print ".RS 4"; code = 1 }
	else { print ".RE"; print ".fi"; code = 0 }
	next
}

code { print esc($0); next }

/^# / && !named {
	flush()
	print ".SH NAME"
	print tolower(name) " \\- " title
	print ".SH DESCRIPTION"
	named = 1
	next
}

/^## / { flush(); sub(/^## */, ""); print ".SH " toupper(inline($0)); next }
/^###+ / { flush(); sub(/^###+ */, ""); print ".SS " inline($0); next }

/^\|[-| :]+\|$/ { next }   # a table's rule line

/^\|/ {
	flush()
	line = $0
	sub(/^\| */, "", line); sub(/ *\|$/, "", line)
	gsub(/ *\| */, " | ", line)
	print ".br"
	print "  " inline(line)
	next
}

/^ *- / { flush(); sub(/^ *- */, ""); para = $0; item = 1; next }

/^$/ { flush(); next }

{ sub(/^ +/, ""); para = (para == "" ? $0 : para " " $0) }

END { flush() }
