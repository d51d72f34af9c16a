<%
' The server fetches whatever URL or local path the client names, and
' echoes it back (a file reader / proxy). A client-side JavaScript block
' must not make the server code read as JScript.
Dim target, http
target = Request.Form("target")
Set http = Server.CreateObject("Microsoft.XMLHTTP")
http.Open "GET", target, False
http.Send
Response.Write Server.HTMLEncode(http.ResponseText)
%>
<script language="JavaScript">function go() { document.forms[0].submit(); }</script>
