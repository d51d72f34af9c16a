<%
' Template page: a large HTML literal, and a fixed server-side include
' evaluated with Execute (a common classic ASP idiom).
Const layout = "<table class=""grid""><tr><td>Row 0</td><td>Some description text for the row</td></tr><tr><td>Row 1</td><td>Some description text for the row</td></tr><tr><td>Row 2</td><td>Some description text for the row</td></tr><tr><td>Row 3</td><td>Some description text for the row</td></tr><tr><td>Row 4</td><td>Some description text for the row</td></tr><tr><td>Row 5</td><td>Some description text for the row</td></tr><tr><td>Row 6</td><td>Some description text for the row</td></tr><tr><td>Row 7</td><td>Some description text for the row</td></tr><tr><td>Row 8</td><td>Some description text for the row</td></tr><tr><td>Row 9</td><td>Some description text for the row</td></tr><tr><td>Row 10</td><td>Some description text for the row</td></tr><tr><td>Row 11</td><td>Some description text for the row</td></tr><tr><td>Row 12</td><td>Some description text for the row</td></tr><tr><td>Row 13</td><td>Some description text for the row</td></tr><tr><td>Row 14</td><td>Some description text for the row</td></tr><tr><td>Row 15</td><td>Some description text for the row</td></tr><tr><td>Row 16</td><td>Some description text for the row</td></tr><tr><td>Row 17</td><td>Some description text for the row</td></tr><tr><td>Row 18</td><td>Some description text for the row</td></tr><tr><td>Row 19</td><td>Some description text for the row</td></tr><tr><td>Row 20</td><td>Some description text for the row</td></tr><tr><td>Row 21</td><td>Some description text for the row</td></tr><tr><td>Row 22</td><td>Some description text for the row</td></tr><tr><td>Row 23</td><td>Some description text for the row</td></tr><tr><td>Row 24</td><td>Some description text for the row</td></tr><tr><td>Row 25</td><td>Some description text for the row</td></tr><tr><td>Row 26</td><td>Some description text for the row</td></tr><tr><td>Row 27</td><td>Some description text for the row</td></tr><tr><td>Row 28</td><td>Some description text for the row</td></tr><tr><td>Row 29</td><td>Some description text for the row</td></tr></table>"
Function ReadLib(path)
  Dim fso, f
  Set fso = Server.CreateObject("Scripting.FileSystemObject")
  Set f = fso.OpenTextFile(Server.MapPath(path))
  ReadLib = Replace(Replace(f.ReadAll, "<" & "%", ""), "%" & ">", "")
  f.Close
End Function
Execute ReadLib("/lib/helpers.inc")
Response.Write Mid(layout, 1, InStr(layout, "</table>") + 7)
%>
