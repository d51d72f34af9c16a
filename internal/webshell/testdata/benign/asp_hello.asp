<%@ Language=VBScript %>
<%
Dim name, conn
name = Request.QueryString("name")
Response.Write "Hello " & Server.HTMLEncode(name)
Set conn = Server.CreateObject("ADODB.Connection")
conn.Execute "UPDATE hits SET n = n + 1"
%>
