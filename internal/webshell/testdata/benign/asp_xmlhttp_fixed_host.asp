<%
' Weather widget: the city comes from the query string, the host is fixed.
Dim city, http
city = Server.URLEncode(Request.QueryString("city"))
Set http = Server.CreateObject("MSXML2.ServerXMLHTTP")
http.Open "GET", "https://weather.example.com/api?city=" & city, False
http.Send
Response.Write Server.HTMLEncode(http.ResponseText)
%>
