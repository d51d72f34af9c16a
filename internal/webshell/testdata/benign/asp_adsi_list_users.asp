<%
' Hand-written fixture: lists the local accounts (ADSI) and echoes an
' encoded filter the client typed.
Set net = Server.CreateObject("WScript.Network")
Set computer = GetObject("WinNT://" & net.ComputerName & ",computer")
computer.Filter = Array("user")
Response.Write "Filter: " & Server.HTMLEncode(Request.QueryString("q")) & "<br>"
For Each u In computer
  Response.Write Server.HTMLEncode(u.Name) & "<br>"
Next
%>
